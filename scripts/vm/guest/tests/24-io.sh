# resource/block-bandwidth and block-iops on v2: io.max on every disk.
. "$GUEST/lib.sh"
io='[{"name": "resource/block-bandwidth", "value": {"default": true, "limit": "1M"}}, {"name": "resource/block-iops", "value": {"default": true, "limit": 100}}]'
mkimage io "$(app_json 'sleep 60' "$io")"
pod_unit disk io
cat "$dir/io.max"
grep -q "^$(cat /sys/block/vda/dev) rbps=1000000 wbps=1000000 riops=100 wiops=100$" "$dir/io.max"
systemctl stop disk.service
no_pod_cgroups
