// A deliberate data race, built only under TYPENET_SANITIZE_THREAD: CI's ThreadSanitizer stage requires this
// program to fail, so a stage that stopped instrumenting anything would not pass silently.
#include <cstdio>
#include <thread>

namespace {
int shared_counter = 0;  // written by two threads with no synchronisation: the race TSan must report
}

int main() {
  std::thread other([] { ++shared_counter; });
  ++shared_counter;
  other.join();
  std::printf("counter %d\n", shared_counter);
  return 0;
}
