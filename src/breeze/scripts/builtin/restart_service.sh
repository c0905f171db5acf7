#!/bin/sh
# Restart a systemd service and show its state afterwards.
# Parameter: SERVICE_NAME (required), a unit name such as nginx or nginx.service.
# Exit codes: 0 restarted and active, 1 restart failed or not active, 2 invalid name,
# 3 no systemd on this machine, 4 no such unit.
set -u
name="${SERVICE_NAME:-}"
# Checked again here (the server checks it too): nothing but a unit name reaches systemctl.
case "$name" in
  '' | -* | *[!A-Za-z0-9_.@:-]*)
    echo "SERVICE_NAME is not a valid unit name: '$name'" >&2
    exit 2 ;;
esac
if ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
  echo "systemd is not running on this machine: cannot restart '$name'" >&2
  exit 3
fi
state=$(systemctl show --property=LoadState --value -- "$name" 2>/dev/null)
if [ "$state" != "loaded" ]; then
  echo "No such service: '$name' (load state: ${state:-unknown})" >&2
  exit 4
fi

echo "Restarting $name"
if ! systemctl restart -- "$name"; then
  echo "systemctl restart $name failed" >&2
  systemctl status --no-pager --lines=20 -- "$name" >&2
  exit 1
fi
# A service that dies right after starting is not a successful restart.
sleep 2
active=$(systemctl is-active -- "$name")
systemctl status --no-pager --lines=10 -- "$name"
if [ "$active" != "active" ]; then
  echo "$name is $active after the restart" >&2
  exit 1
fi
echo "$name is active"
