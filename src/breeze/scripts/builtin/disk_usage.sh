#!/bin/sh
# Disk usage report: space and inodes per local filesystem, flagging the fuller ones.
# Parameter: THRESHOLD_PERCENT (default 90): filesystems at or above it are flagged.
set -u
threshold="${THRESHOLD_PERCENT:-90}"
case "$threshold" in
  '' | *[!0-9]*) echo "THRESHOLD_PERCENT must be a whole number, got '$threshold'" >&2; exit 2 ;;
esac

# Pseudo and image filesystems say nothing about free space; GNU df can leave them out.
skip="-x tmpfs -x devtmpfs -x squashfs -x overlay -x proc -x sysfs -x cgroup -x cgroup2"

echo "== Space (threshold ${threshold}%) =="
# shellcheck disable=SC2086  # $skip is a list of options
df -hP $skip 2>/dev/null || df -hP
echo

echo "== Inodes =="
# shellcheck disable=SC2086
df -iP $skip 2>/dev/null || df -iP || echo "(inode counts unavailable)"
echo

echo "== Above ${threshold}% =="
# shellcheck disable=SC2086
{ df -P $skip 2>/dev/null || df -P; } | awk -v limit="$threshold" '
  NR > 1 {
    use = $5; sub(/%/, "", use)
    if (use != "-" && use + 0 >= limit + 0) {
      printf "WARNING %s is %s%% full (mounted on %s)\n", $1, use, $6; n++
    }
  }
  END { if (!n) print "none" }'
exit 0
