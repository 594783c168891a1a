# resource/cpu and os/linux/cpu-shares on v2: cpu.max and cpu.weight; a
# CPU-bound app is throttled to its quota.
. "$GUEST/lib.sh"
cpu='[{"name": "resource/cpu", "value": {"limit": "200m"}}, {"name": "os/linux/cpu-shares", "value": 2048}]'
mkimage spin "$(app_json 'while :; do :; done' "$cpu")"

pod_unit spin spin
[ "$(cat "$dir/cpu.max")" = "20000 100000" ]
[ "$(cat "$dir/cpu.weight")" = 79 ]
share=$(cpu_share "$dir")
echo "cpu used: $share% of one CPU; $(grep throttled "$dir/cpu.stat" | tr '\n' ' ')"
[ "$share" -le 25 ]
[ "$(awk '$1 == "nr_throttled" {print $2}' "$dir/cpu.stat")" -gt 0 ]
systemctl stop spin.service
no_pod_cgroups
