// typenet::Error: the base of every error typenet throws for bad input, so one catch clause covers them all.
// Each message says what and where: the file, the layer, the sample, the value and the limit.
#pragma once

#include <stdexcept>

namespace typenet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A class label that is not below the network's output width (a label of 7 for a 5-class network).
class LabelError : public Error {
 public:
  using Error::Error;
};

// An option or argument outside what a function accepts (a gradient check's step h of 0), named with its value.
class ArgumentError : public Error {
 public:
  using Error::Error;
};

}  // namespace typenet
