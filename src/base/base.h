// The base module's public face: results, time, addresses, byte readers.
#ifndef SIPMAN_BASE_BASE_H_
#define SIPMAN_BASE_BASE_H_

#include "base/byte_reader.h"
#include "base/ip_address.h"
#include "base/status.h"
#include "base/time.h"

#endif  // SIPMAN_BASE_BASE_H_
