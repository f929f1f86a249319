// Exceptions thrown by the TF-free kernel library.
//
// The TF glue turns InputError into errors::InvalidArgument, std::bad_alloc
// into errors::ResourceExhausted and any other std::exception into
// errors::Internal, so no exception ever escapes into TensorFlow.
#pragma once

#include <stdexcept>
#include <string>

namespace deepmt {

// The caller passed inconsistent or out-of-range data (a user mistake).
class InputError : public std::invalid_argument {
 public:
  explicit InputError(const std::string& what) : std::invalid_argument(what) {}
};

}  // namespace deepmt
