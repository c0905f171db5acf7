#!/bin/sh
# Delete old files from /tmp and /var/tmp.
# Parameters: OLDER_THAN_DAYS (default 7): only files neither modified nor read for
# longer; DRY_RUN (default false): list what would be deleted, delete nothing.
# Only regular files, symbolic links (never followed) and then empty directories are
# removed, on the temp directory's own filesystem, outside the private directories of
# services and desktop sessions (which may be in use however old they are).
set -u
days="${OLDER_THAN_DAYS:-7}"
dry_run="${DRY_RUN:-false}"
case "$days" in
  '' | *[!0-9]*) echo "OLDER_THAN_DAYS must be a whole number, got '$days'" >&2; exit 2 ;;
esac
case "$dry_run" in
  true | false) ;;
  *) echo "DRY_RUN must be true or false, got '$dry_run'" >&2; exit 2 ;;
esac
# BREEZE_TEST_TEMP_DIRS lets the tests aim at a scratch directory; no script parameter
# can take a BREEZE_ name, so it cannot be set through an execution.
dirs="${BREEZE_TEST_TEMP_DIRS:-/tmp /var/tmp}"

old_files() {
  # $1: directory; the rest: what to do with each match
  root="$1"
  shift
  find "$root" -xdev -mindepth 1 \
    ! -path "$root/systemd-private-*" ! -path "$root/snap-private-tmp*" ! -path "$root/.*-unix*" \
    \( -type f -o -type l \) -mtime +"$days" -atime +"$days" "$@" 2>/dev/null
}

verb="removed"
[ "$dry_run" = "true" ] && verb="would be removed"
total=0
for dir in $dirs; do
  # Refuse anything but a real directory (a symlinked /tmp could point anywhere).
  if [ ! -d "$dir" ] || [ -L "$dir" ]; then
    echo "skipping $dir: not a directory"
    continue
  fi
  if [ "$dry_run" = "true" ]; then
    listed=$(old_files "$dir" -print)
  else
    listed=$(
      old_files "$dir" -print -delete
      find "$dir" -xdev -mindepth 1 -depth \
        ! -path "$dir/systemd-private-*" ! -path "$dir/snap-private-tmp*" ! -path "$dir/.*-unix*" \
        -type d -empty -mtime +"$days" -print -delete 2>/dev/null
    )
  fi
  count=0
  if [ -n "$listed" ]; then
    printf '%s\n' "$listed"
    count=$(printf '%s\n' "$listed" | wc -l)
  fi
  total=$((total + count))
  echo "$dir: $count entries $verb"
done
echo "$total entries older than $days days $verb"
[ "$dry_run" = "true" ] && echo "dry run: nothing deleted"
exit 0
