#include "app/process.h"

#include <pthread.h>

#include <cstdlib>
#include <fstream>

namespace sipman::app {

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

Status ReadAdminPassword(const std::string& file, std::string* password) {
  password->clear();
  if (file.empty()) {
    if (const char* env = std::getenv("SIPMAN_ADMIN_PASSWORD"); env != nullptr) *password = env;
    return Status::Ok();
  }
  std::ifstream in(file);
  if (!in) return Status::Error("cannot read --admin-password-file " + file);
  std::getline(in, *password);
  while (!password->empty() && (password->back() == '\r' || password->back() == ' ')) {
    password->pop_back();
  }
  if (password->empty()) {
    return Status::Error("--admin-password-file " + file + " holds no password");
  }
  return Status::Ok();
}

}  // namespace sipman::app
