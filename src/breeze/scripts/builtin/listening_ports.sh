#!/bin/sh
# TCP and UDP sockets listening on this machine, with their processes where visible.
# Uses ss, else netstat, else reads /proc/net directly (no process names then).
set -u
# A tool may exist yet fail (no netlink access in some containers): then try the next.
if command -v ss >/dev/null 2>&1 && out=$(ss -tulpn 2>/dev/null); then
  echo "# source: ss"
  printf '%s\n' "$out"
  exit 0
fi
if command -v netstat >/dev/null 2>&1 && out=$(netstat -tulpn 2>/dev/null || netstat -tuln); then
  echo "# source: netstat"
  printf '%s\n' "$out"
  exit 0
fi

echo "# source: /proc/net"
printf '%-6s %-8s %s\n' "Proto" "State" "Local Address:Port"
for proto in tcp tcp6 udp udp6; do
  file="/proc/net/$proto"
  [ -r "$file" ] || continue
  # Addresses are hex in host byte order (little-endian here): 0100007F:1F90 is
  # 127.0.0.1:8080. TCP state 0A is LISTEN; a bound UDP socket is state 07.
  awk -v proto="$proto" '
    function hexval(h,    i, c, v) {
      v = 0; h = toupper(h)
      for (i = 1; i <= length(h); i++) {
        c = index("0123456789ABCDEF", substr(h, i, 1)) - 1
        v = v * 16 + c
      }
      return v
    }
    function ipv4(h) {
      return hexval(substr(h, 7, 2)) "." hexval(substr(h, 5, 2)) "." \
             hexval(substr(h, 3, 2)) "." hexval(substr(h, 1, 2))
    }
    function ipv6(h,    w, word, out, j) {
      out = ""
      for (w = 0; w < 4; w++) {
        word = substr(h, w * 8 + 1, 8)
        # each 32-bit word is little-endian: reverse its bytes
        word = substr(word, 7, 2) substr(word, 5, 2) substr(word, 3, 2) substr(word, 1, 2)
        for (j = 0; j < 2; j++) {
          out = out (out == "" ? "" : ":") sprintf("%x", hexval(substr(word, j * 4 + 1, 4)))
        }
      }
      return "[" out "]"
    }
    NR > 1 {
      split($2, local, ":")
      state = $4
      if (proto ~ /^tcp/ && state != "0A") next
      if (proto ~ /^udp/ && state != "07") next
      addr = (length(local[1]) == 8) ? ipv4(local[1]) : ipv6(local[1])
      printf "%-6s %-8s %s:%d\n", proto, (proto ~ /^tcp/ ? "LISTEN" : "UNCONN"), addr, hexval(local[2])
    }' "$file"
done
exit 0
