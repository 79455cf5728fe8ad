#include "app/app.h"

int main(int argc, char** argv) { return sipman::app::Main(argc, argv); }
