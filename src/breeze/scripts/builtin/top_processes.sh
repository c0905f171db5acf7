#!/bin/sh
# The processes using the most CPU and the most memory.
# Parameter: COUNT (default 10): how many processes per list.
set -u
count="${COUNT:-10}"
case "$count" in
  '' | *[!0-9]*) echo "COUNT must be a whole number, got '$count'" >&2; exit 2 ;;
esac
lines=$((count + 1))
fields="pid,ppid,user,pcpu,pmem,rss,etime,args"

show() {
  # $1: ps sort key; GNU procps sorts itself, others are sorted here on the column.
  if ps -eo "$fields" --sort="-$1" >/dev/null 2>&1; then
    ps -eo "$fields" --sort="-$1" | cut -c1-200 | head -n "$lines"
  else
    column=4
    [ "$1" = "pmem" ] && column=5
    ps -eo "$fields" | {
      IFS= read -r header
      printf '%s\n' "$header"
      sort -k"$column" -rn | head -n "$count"
    } | cut -c1-200
  fi
}

echo "== Top $count by CPU =="
show pcpu
echo
echo "== Top $count by memory =="
show pmem
echo
echo "== Load and memory =="
uptime 2>/dev/null || cat /proc/loadavg
free -m 2>/dev/null || head -n 3 /proc/meminfo
exit 0
