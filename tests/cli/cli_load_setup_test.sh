#!/usr/bin/env bash
# End-to-end tests of libbpf's load-time setup in `bpfkit run` (issue 14):
# map sizes, map entries (--map, --map-file), global variables (--set),
# __kconfig externs (--kconfig), the map types beyond arrays and hashes, and
# maps created only for the program that runs. Bad input: exit 2, a clear
# error.
#   cli_load_setup_test.sh BPFKIT BPF_OBJECT_DIR
set -u
bpfkit=$1 objects=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

if [ -z "$objects" ] || [ ! -f "$objects/load_setup.o" ]; then
  echo "SKIP: the BPF test programs are not built (clang-19)"
  summary cli_load_setup
  exit 0
fi
frame=020000000001020000000002080045000014000000004006000000000000000000000000
setup=$objects/load_setup.o kinds=$objects/map_kinds.o
printf 'CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=250\n# CONFIG_BPFKIT_MISSING is not set\nCONFIG_DEFAULT_HOSTNAME="bpfkit"\n' \
  >"$tmp/kconfig"
run_setup() { "$bpfkit" run "$setup" --packet-hex "$frame" --kconfig "$tmp/kconfig" "$@"; }

# A map of max_entries 0 is user space's to size.
check_err size-needed 2 "map 'sized': max_entries is 0" -- run_setup
# 10 + 5 + 0 + 'a' + 1000 + 10000 + 100000 (CONFIG_BPF_SYSCALL=y) = 111112; + sized[7] = 5.
check sized 0 "retval: 111112" -- run_setup --map-size sized=16
check map-entry 0 "retval: 111117" -- run_setup --map-size sized=16 --map sized=07000000:0500000000000000
check_err map-size-zero 2 "--map-size sized=0: want NAME=N" -- run_setup --map-size sized=0
check_err map-size-unknown 2 "the program uses no map named 'nosuch'" -- run_setup --map-size nosuch=4
check_err map-size-global-data 2 "'.rodata' is global data" -- run_setup --map-size .rodata=4
check_err map-key-size 2 "map 'sized' has 4-byte keys, not 2" -- run_setup --map-size sized=16 --map sized=0700:0500000000000000
check_err map-bad-hex 2 "the key and value are hex bytes" -- run_setup --map-size sized=16 --map sized=07000000:05zz
check_err map-no-colon 2 "want NAME=KEYHEX:VALUEHEX" -- run_setup --map-size sized=16 --map sized=07000000
check_err map-full 2 "E2BIG from map 'sized'" -- run_setup --map-size sized=1 --map sized=07000000:0500000000000000 \
  --map sized=08000000:0500000000000000

# --map-file: one entry a line, comments and blank lines skipped.
printf '# name key value\nsized 07000000 0600000000000000\n\nsized 08000000 0100000000000000\n' >"$tmp/entries"
check map-file 0 "retval: 111118" -- run_setup --map-size sized=16 --map-file "$tmp/entries"
printf 'sized 07000000\n' >"$tmp/short"
check_err map-file-fields 2 "$tmp/short:1: want NAME KEYHEX VALUEHEX" -- run_setup --map-size sized=16 --map-file "$tmp/short"
printf 'sized 07000000 0600000000000000\nsized 0800000 0100000000000000\n' >"$tmp/odd"
check_err map-file-hex 2 "$tmp/odd:2: the key and value are hex bytes" -- run_setup --map-size sized=16 --map-file "$tmp/odd"
check_err map-file-missing 2 "nosuch.entries" -- run_setup --map-size sized=16 --map-file "$tmp/nosuch.entries"
# 200,000 entries (a load balancer's hash ring) load in well under the test's time.
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "sized %02x%02x%02x%02x 0100000000000000\n", i % 256, int(i / 256) % 256, int(i / 65536), 0 }' \
  >"$tmp/ring"
check map-file-200k 0 "retval: 111113" -- guarded "$bpfkit" run "$setup" --packet-hex "$frame" --kconfig "$tmp/kconfig" \
  --map-size sized=200000 --map-file "$tmp/ring"

# --set: as a skeleton's rodata->x = ...; size-checked.
check set-rodata 0 "retval: 111122" -- run_setup --map-size sized=16 --set threshold=20
check set-data-hex 0 "retval: 111123" -- run_setup --map-size sized=16 --set counter=0x10
check set-bss 0 "retval: 111119" -- run_setup --map-size sized=16 --set zeroed=7
check set-text 0 "retval: 111135" -- run_setup --map-size sized=16 --set 'tag="xyz"'
check set-bytes 0 "retval: 111016" -- run_setup --map-size sized=16 --set tag=hex:01000000
check_err set-too-big 2 "4294967296 does not fit in 4 bytes" -- run_setup --map-size sized=16 --set threshold=4294967296
check_err set-unknown 2 "no global variable 'nosuch'" -- run_setup --map-size sized=16 --set nosuch=1
check_err set-not-number 2 "'ten' is not a number" -- run_setup --map-size sized=16 --set threshold=ten
check_err set-hex-size 2 "hex: wants 4 bytes" -- run_setup --map-size sized=16 --set tag=hex:0102
check_err set-no-equals 2 "want NAME=VALUE" -- run_setup --map-size sized=16 --set threshold

# __kconfig: CONFIG_HZ and CONFIG_DEFAULT_HOSTNAME land in `out`; a weak
# extern with no value is 0, a strong one is an error.
check kconfig-values 0 '"value":"fa00000000000000"' -- run_setup --map-size sized=16 --dump-maps --json
check kconfig-string 0 '"value":"000074696b667062"' -- run_setup --map-size sized=16 --dump-maps --json
printf 'CONFIG_BPF_SYSCALL=m\n' >"$tmp/module"
check kconfig-tristate 0 "retval: 211112" -- "$bpfkit" run "$setup" --packet-hex "$frame" --kconfig "$tmp/module" \
  --map-size sized=16
printf 'CONFIG_HZ=250\n' >"$tmp/no-syscall"
check_err kconfig-strong-missing 2 "extern 'CONFIG_BPF_SYSCALL' (strong): not resolved" \
  -- "$bpfkit" run "$setup" --packet-hex "$frame" --kconfig "$tmp/no-syscall" --map-size sized=16
printf 'CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=y\n' >"$tmp/hz-bool"
check_err kconfig-wrong-kind 2 "extern (kcfg) 'CONFIG_HZ': value 'y' implies bool, tristate, or char type" \
  -- "$bpfkit" run "$setup" --packet-hex "$frame" --kconfig "$tmp/hz-bool" --map-size sized=16
check_err kconfig-unreadable 2 "--kconfig $tmp/nosuch: cannot read the file" \
  -- "$bpfkit" run "$setup" --packet-hex "$frame" --kconfig "$tmp/nosuch" --map-size sized=16
check objdump-kconfig 0 "CONFIG_BPFKIT_MISSING" -- "$bpfkit" objdump "$setup"
check objdump-kconfig-json 0 '{"name":"CONFIG_BPF_SYSCALL","kind":"tristate"' -- "$bpfkit" objdump "$setup" --json
check_err raw-no-map 2 "--map does not apply to" -- "$bpfkit" run "$tmp/kconfig" --map a=00:00

# Map types: lpm_trie, queue, stack, bloom filter, maps of maps, devmap,
# devmap_hash, xskmap (19860 with the device maps empty; see map_kinds.c).
check map-kinds 0 "retval: 19860" -- "$bpfkit" run "$kinds" --function map_kinds --packet-hex "$frame"
check devmap-entry 0 "retval: 19960" -- "$bpfkit" run "$kinds" --function map_kinds --packet-hex "$frame" \
  --map tx_port=00000000:01000000
check map-of-maps-entry 0 "retval: 19860" -- "$bpfkit" run "$kinds" --function map_kinds --packet-hex "$frame" \
  --map outer=00000000:@inner_a
check_err map-of-maps-bad 2 "@NAME names an inner map" -- "$bpfkit" run "$kinds" --function map_kinds \
  --packet-hex "$frame" --map outer=00000000:@nosuch
check queue-dump 0 '"name":"lifo","type":"stack","type_id":23,"entries":[{"key":"","value":"01000000"}' \
  -- "$bpfkit" run "$kinds" --function map_kinds --packet-hex "$frame" --dump-maps --json
# Only the maps the program uses exist: the sockmap of `other` is no error here...
check_that only-used-maps bash -c "! grep -q socks '$tmp/stdout'"
# ...but is for `other`.
check_err other-program-maps 1 "'socks': sockmap (15) maps are not supported" \
  -- "$bpfkit" run "$kinds" --function other --packet-hex "$frame"
check objdump-perf-array 0 "perf_event_array" -- "$bpfkit" objdump "$kinds"

summary cli_load_setup
