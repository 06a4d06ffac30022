#!/usr/bin/env bash
# bench/compile_time.sh: how long a user's translation unit takes to compile against typenet's headers.
#
# Times `CXX -std=c++20 -O2 -I<include> -c FILE -o /dev/null` (front end, template instantiation and -O2
# code generation; no linking) for bench/user_mlp.cpp and every examples/*.cpp, and prints for each file
# the fastest of N runs in seconds, under the compiler version and the CPU model: wall clock (the figure)
# and the compiler's CPU time, user + system (steadier when other jobs share the cores). It is a benchmark
# figure to watch, not a test: there is no threshold, and it fails only if a file does not compile.
#
#   bash bench/compile_time.sh [--repeat N] [--include DIR] [--compiler CXX] [--time-trace DIR] [files...]
#     --repeat N        runs per file (default 3)
#     --include DIR     typenet's headers (default: <repo>/include)
#     --compiler CXX    the compiler (default: $CXX, else g++)
#     --time-trace DIR  clang only: also pass -ftime-trace and leave <file>.json in DIR (chrome://tracing,
#                       https://ui.perfetto.dev or speedscope read it); the traced runs are the timed ones
#     files             what to compile (default: bench/user_mlp.cpp examples/*.cpp)
# Boost.Hana and Highway are found in the compiler's default paths (/usr/include on Debian); put -isystem
# flags for other places in $CPPFLAGS.
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$bench")
repeat=3 include=$root/include cxx=${CXX:-g++} trace_dir=
usage() { sed -n '/^#   bash/,/CPPFLAGS/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "$1"; }
while (($#)); do
  case $1 in
    --repeat) repeat=${2:?}; shift 2 ;;
    --include) include=${2:?}; shift 2 ;;
    --compiler) cxx=${2:?}; shift 2 ;;
    --time-trace) trace_dir=${2:?}; shift 2 ;;
    -h | --help) usage 0 ;;
    -*) echo "compile_time.sh: unknown option $1" >&2; usage 2 >&2 ;;
    *) break ;;
  esac
done
(($# > 0)) || set -- "$bench/user_mlp.cpp" "$root"/examples/*.cpp
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "compile_time.sh: --repeat needs a positive integer" >&2; exit 2; }

flags=(-std=c++20 -O2 -I"$include" ${CPPFLAGS:-})
if [[ -n $trace_dir ]]; then
  "$cxx" --version | grep -q clang || { echo "compile_time.sh: --time-trace needs clang" >&2; exit 2; }
  mkdir -p "$trace_dir"
  trace_dir=$(cd "$trace_dir" && pwd)
fi

echo "compiler: $("$cxx" --version | head -n 1)"
echo "cpu:      $(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
echo "command:  $cxx ${flags[*]} -c FILE -o /dev/null, fastest of $repeat"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
printf '%-32s %8s %8s\n' file wall_s cpu_s

status=0 TIMEFORMAT='%R %U %S'  # bash's `time`: wall, user and system seconds
for file in "$@"; do
  name=$(basename "$file")
  out=/dev/null extra=()
  # clang 14 names the trace after the object file, so a traced run writes a real one, removed after.
  [[ -n $trace_dir ]] && out=$trace_dir/${name%.*}.o extra=(-ftime-trace)
  runs=
  for ((run = 0; run < repeat; ++run)); do
    # The compiler's own output goes to our stderr (fd 4); only the timing is captured.
    if ! runs+=$( { time "$cxx" "${flags[@]}" "${extra[@]}" -c "$file" -o "$out" >&4 2>&4; } 4>&2 2>&1)$'\n'; then
      runs=FAILED status=1
      break
    fi
  done
  [[ $out != /dev/null ]] && rm -f "$out"
  if [[ $runs == FAILED ]]; then
    printf '%-32s %8s\n' "$name" FAILED
  else
    awk -v name="$name" 'NR == 1 || $1 < w { w = $1 } NR == 1 || $2 + $3 < c { c = $2 + $3 }
      END { printf "%-32s %8.2f %8.2f\n", name, w, c }' <<<"${runs%$'\n'}"
  fi
done
[[ -n $trace_dir ]] && echo "traces:   $trace_dir/*.json"
exit $status
