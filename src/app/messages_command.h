// Private to app: `sipman messages FILE...`.
#ifndef SIPMAN_APP_MESSAGES_COMMAND_H_
#define SIPMAN_APP_MESSAGES_COMMAND_H_

#include <string>
#include <vector>

namespace sipman::app {

enum class MessageFormat { kTsv, kJson, kNone };

struct MessagesOptions {
  MessageFormat format = MessageFormat::kTsv;
  std::vector<std::string> files;
};

// Prints one line per SIP message of the files, in capture order, to stdout
// and the totals to stderr. Returns the exit code.
int RunMessages(const MessagesOptions& options);

}  // namespace sipman::app

#endif  // SIPMAN_APP_MESSAGES_COMMAND_H_
