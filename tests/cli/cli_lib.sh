# What the CLI test scripts share: sourced after setting $tmp (a scratch
# directory). Each check counts into $passed / $failed; summary prints them.
passed=0 failed=0

# check NAME EXPECTED_STATUS EXPECTED_STDOUT_SUBSTRING -- COMMAND...
check() {
  local name=$1 want_status=$2 want_out=$3
  shift 4
  local out status
  out=$("$@" 2>"$tmp/stderr")
  status=$?
  printf '%s\n' "$out" >"$tmp/stdout"
  if [ "$status" -ne "$want_status" ] || [[ "$out" != *"$want_out"* ]]; then
    echo "FAIL $name: status $status (want $want_status), stdout: $out, stderr: $(head -c 2000 "$tmp/stderr")"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}
# check_err NAME EXPECTED_STATUS EXPECTED_STDERR_SUBSTRING -- COMMAND...
check_err() {
  local name=$1 want_status=$2 want_err=$3
  shift 4
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  local status=$?
  if [ "$status" -ne "$want_status" ] || ! grep -qF -- "$want_err" "$tmp/stderr"; then
    echo "FAIL $name: status $status (want $want_status), stderr: $(head -c 2000 "$tmp/stderr")"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}
# check_that NAME COMMAND...: the command (a test of what earlier checks left) succeeds.
check_that() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAIL $name: $*"
    failed=$((failed + 1))
  fi
}

# guarded COMMAND...: runs COMMAND with a bound on its address space (4 GB;
# not under ASan, whose shadow memory needs terabytes of it) and on its time
# (20 s; a timeout exits 124), so that a runaway input fails the test
# instead of the machine.
guarded() {
  (
    if ! grep -qa AddressSanitizer "$1" 2>/dev/null; then ulimit -v 4000000; fi
    exec timeout 20 "$@"
  )
}

# is_json FILE: every line of FILE is one JSON value (python3, where installed).
is_json() {
  if ! command -v python3 >/dev/null; then return 0; fi
  python3 -c 'import json, sys
for line in open(sys.argv[1], "rb"):
    json.loads(line.decode("utf-8"))' "$1"
}

summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
