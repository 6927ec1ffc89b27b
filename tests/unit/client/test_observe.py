"""The pure parts of the observing and managing commands: stats' figures from a /stats reply,
the sizes and times they print, natural sort, the prune texts, events' lines and times."""
import os
import time

import pytest

from client import formatting as fmt
from client import timestamps
from client.commands import events, history, info, network, stats, system, volume

STATS = {
    "read": "2026-01-01T00:00:01Z", "preread": "2026-01-01T00:00:00Z", "id": "f" * 64, "name": "/web",
    "pids_stats": {"current": 3},
    "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000, "percpu_usage": [1, 2]},
                  "system_cpu_usage": 20_000_000_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000}, "system_cpu_usage": 16_000_000_000},
    "memory_stats": {"usage": 10 * 1024 * 1024, "limit": 100 * 1024 * 1024,
                     "stats": {"total_inactive_file": 2 * 1024 * 1024, "inactive_file": 1024}},
    "blkio_stats": {"io_service_bytes_recursive": [{"major": 8, "minor": 0, "op": "Read", "value": 4096},
                                                   {"major": 8, "minor": 0, "op": "write", "value": 1_500_000},
                                                   {"major": 8, "minor": 0, "op": "Sync", "value": 99},
                                                   {"major": 8, "minor": 0, "op": "", "value": 7}]},
    "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 250}, "eth1": {"rx_bytes": 500, "tx_bytes": 0}},
}


def test_cpu_percent_is_the_share_of_the_host_times_the_cpus():
    assert stats.cpu_percent(STATS["precpu_stats"], STATS["cpu_stats"]) == pytest.approx(50.0)
    # no online_cpus: the per-CPU list's length stands in
    current = {**STATS["cpu_stats"], "online_cpus": 0}
    assert stats.cpu_percent(STATS["precpu_stats"], current) == pytest.approx(50.0)
    # the first sample (no previous one) and an idle container are 0
    assert stats.cpu_percent({}, {"cpu_usage": {"total_usage": 5}, "system_cpu_usage": 0}) == 0.0
    assert stats.cpu_percent(STATS["cpu_stats"], STATS["cpu_stats"]) == 0.0


def test_memory_leaves_out_the_inactive_page_cache():
    assert stats.memory_usage(STATS["memory_stats"]) == 8 * 1024 * 1024  # cgroup v1's total_inactive_file
    v2 = {"usage": 5000, "stats": {"inactive_file": 1000}}
    assert stats.memory_usage(v2) == 4000
    assert stats.memory_usage({"usage": 5000, "stats": {"total_inactive_file": 9000}}) == 5000
    assert stats.memory_usage({}) == 0
    assert stats.memory_percent(100 * 1024 * 1024, 8 * 1024 * 1024) == pytest.approx(8.0)
    assert stats.memory_percent(0, 123) == 0.0


def test_block_and_network_io_are_summed():
    assert stats.block_io(STATS["blkio_stats"]) == (4096, 1_500_000)
    assert stats.block_io({"io_service_bytes_recursive": None}) == (0, 0)
    assert stats.network_io(STATS["networks"]) == (1500, 250)
    assert stats.network_io(None) == (0, 0)


def test_a_row_as_docker_prints_it():
    entry = stats.Entry("web")
    entry.update(STATS)
    row = stats.Row(entry, trunc=True)
    assert [row.ID(), row.Name(), row.CPUPerc(), row.MemUsage(), row.MemPerc(), row.NetIO(), row.BlockIO(),
            row.PIDs()] == ["f" * 12, "web", "50.00%", "8MiB / 100MiB", "8.00%", "1.5kB / 250B", "4.1kB / 1.5MB",
                            "3"]
    assert stats.Row(entry, trunc=False).ID() == "f" * 64
    assert list(row.as_json()) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO",
                                   "PIDs"]


def test_a_silent_or_failed_container_shows_dashes():
    entry = stats.Entry("web")
    entry.update(STATS)
    entry.silent()
    row = stats.Row(entry, trunc=True)
    assert [row.Name(), row.CPUPerc(), row.MemUsage(), row.MemPerc(), row.NetIO(), row.BlockIO(), row.PIDs()] == \
        ["web", "--", "-- / --", "--", "--", "--", "--"]
    assert entry.error == "timeout waiting for stats"
    assert stats.Row(stats.Entry("new"), trunc=True).Name() == "--"
    entry.update(STATS)
    assert (entry.invalid, entry.error, stats.Row(entry, trunc=True).PIDs()) == (False, None, "3")


def test_a_stopped_container_is_zeros():
    entry = stats.Entry("idle")
    entry.update({"id": "a" * 64, "name": "/idle", "pids_stats": {}, "cpu_stats": {"cpu_usage": {"total_usage": 0}},
                  "precpu_stats": {"cpu_usage": {"total_usage": 0}}, "memory_stats": {}, "blkio_stats": {}})
    row = stats.Row(entry, trunc=True)
    assert [row.CPUPerc(), row.MemUsage(), row.MemPerc(), row.NetIO(), row.BlockIO(), row.PIDs()] == \
        ["0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]


def test_percentages_round_as_go_formats_them():
    assert [stats.percentage(v) for v in (0, 0.005, 12.345, 99.999, 250)] == \
        ["0.00%", "0.01%", "12.35%", "100.00%", "250.00%"]


def test_a_redraw_homes_the_cursor_and_erases_what_is_left():
    assert stats.frame("A   B\n1   2\n") == "\x1b[HA   B\x1b[K\n1   2\x1b[K\n\x1b[J"


class _Chunks:
    def __init__(self, *chunks):
        self.chunks = list(chunks)

    def read_some(self):
        chunk = self.chunks.pop(0)
        if isinstance(chunk, Exception):
            raise chunk
        return chunk


def test_json_lines_survive_a_timeout_mid_object():
    reader = stats.JsonLines(_Chunks(b'{"a": 1}\n{"b"', TimeoutError(), b': 2}\n\n', b'{"c": 3}', b"", b""))
    assert reader.next() == {"a": 1}
    with pytest.raises(TimeoutError):
        reader.next()
    assert reader.next() == {"b": 2}
    assert reader.next() == {"c": 3}  # a body without a final newline
    assert reader.next() is None


def test_sizes_as_go_units_prints_them():
    assert [fmt.human_size(n) for n in (0, 999, 1000, 4096, 3_089_000, 1_234_567_890)] == \
        ["0B", "999B", "1kB", "4.096kB", "3.089MB", "1.235GB"]
    assert [fmt.human_size(n, 3) for n in (12_288, 3_089_000)] == ["12.3kB", "3.09MB"]
    assert [fmt.bytes_size(n) for n in (0, 1023, 1024, 319_488, 25_274_908_672)] == \
        ["0B", "1023B", "1KiB", "312KiB", "23.54GiB"]


def test_natural_order_counts_numbers_as_numbers():
    names = ["vol10", "vol2", "vol02", "Vol1", "vol", "vol1a", "a-b", "a_b", "10", "9"]
    assert sorted(names, key=system.natural_key) == \
        ["9", "10", "Vol1", "a-b", "a_b", "vol", "vol1a", "vol2", "vol02", "vol10"]
    assert sorted(["vol10", "vol2", "vol1"], key=system.natural_key) == ["vol1", "vol2", "vol10"]
    assert sorted(["x02", "x2", "x1"], key=system.natural_key) == ["x1", "x2", "x02"]
    assert sorted(["b", "1", "a"], key=system.natural_key) == ["1", "a", "b"]  # digits before other bytes
    assert sorted(["ab", "a"], key=system.natural_key) == ["a", "ab"]
    assert sorted(["label=a=b", "label!=c", "until=1h"], key=system.natural_key) == \
        ["label!=c", "label=a=b", "until=1h"]


def test_filter_flags_as_docker_reads_them():
    assert system.filters_param([" Label = a=b ", "label=c", "dangling=true", "label=c"], "--filter", "x", "u") == \
        {"label": ["a=b", "c"], "dangling": ["true"]}
    assert system.encode_filters({"label": ["a=b"]}) == '{"label":{"a=b":true}}'
    assert system.encode_filters({}) is None
    from client.__main__ import CommandError

    with pytest.raises(CommandError) as raised:
        system.filters_param(["nonsense"], "-f, --filter", "volume ls", "docker volume ls [OPTIONS]")
    assert raised.value.status == 125
    assert str(raised.value) == ('invalid argument "nonsense" for "-f, --filter" flag: bad format of filter '
                                 "(expected name=value)\n\nUsage:  pydocker volume ls [OPTIONS]\n\n"
                                 "Run 'pydocker volume ls --help' for more information")


def test_key_values_as_labels_and_options():
    assert system.key_values(["a=1", "b", "c=x=y", "d="]) == {"a": "1", "b": "", "c": "x=y", "d": ""}


def test_system_prune_asks_as_docker_asks():
    assert system.system_warning(False, False, {}) == (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n\n"
        "Are you sure you want to continue?")
    assert system.system_warning(True, True, {"until": ["1h"], "label": ["a=b"], "label!": ["c"], "x": ["y"]}) == (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all anonymous volumes not used by at least one container\n"
        "  - all images without at least one container associated to them\n  - all build cache\n\n"
        "  Items to be pruned will be filtered with:\n  - label!=c\n  - label=a=b\n  - until=1h\n\n"
        "Are you sure you want to continue?")


def test_prune_reports():
    assert system.report("Deleted Volumes:", ["a", "b"]) == "Deleted Volumes:\na\nb\n\n"
    assert system.report("Deleted Volumes:", []) == ""
    assert system.reclaimed(12_288) == "Total reclaimed space: 12.29kB\n"


def test_disk_usage_summary_rows():
    du = {"LayersSize": 3_089_000,
          "Images": [{"Size": 3_089_000, "SharedSize": -1, "Containers": 2}, {"Size": 10, "SharedSize": 0,
                                                                             "Containers": 0}],
          "Containers": [{"State": "running", "SizeRw": 12_300}, {"State": "exited", "SizeRw": 8_200}],
          "Volumes": [{"UsageData": {"Size": 4096, "RefCount": 1}}, {"UsageData": {"Size": 4096, "RefCount": 0}},
                      {"UsageData": {"Size": -1, "RefCount": 0}}],
          "BuildCache": []}
    rows = [row.as_json() for row in system.summary_rows(du)]
    assert rows == [
        {"Active": "1", "Reclaimable": "3.089MB (100%)", "Size": "3.089MB", "TotalCount": "2", "Type": "Images"},
        {"Active": "1", "Reclaimable": "8.2kB (40%)", "Size": "20.5kB", "TotalCount": "2", "Type": "Containers"},
        {"Active": "1", "Reclaimable": "4.096kB (50%)", "Size": "8.192kB", "TotalCount": "3",
         "Type": "Local Volumes"},
        {"Active": "0", "Reclaimable": "0B", "Size": "0B", "TotalCount": "0", "Type": "Build Cache"}]
    empty = [row.as_json()["Reclaimable"] for row in system.summary_rows({})]
    assert empty == ["0B", "0B", "0B", "0B"]


def test_volume_columns_and_inspect_shape():
    plain = volume.Volume({"Name": "v", "Driver": "local", "Scope": "local", "Labels": {"a": "1"}})
    assert [plain.Links(), plain.Size(), plain.Group(), plain.Status(), plain.Labels(), plain.Label("a")] == \
        ["N/A", "N/A", "N/A", "N/A", "a=1", "1"]
    used = volume.Volume({"Name": "v", "UsageData": {"Size": 4096, "RefCount": 2}})
    assert (used.Links(), used.Size()) == ("2", "4.096kB")
    shaped = volume.as_go_struct({"Name": "v", "Driver": "local", "Mountpoint": "/m", "CreatedAt": "",
                                  "Labels": {"z": "1", "a": "2"}, "Scope": "local", "Options": None})
    assert list(shaped) == ["Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert list(shaped["Labels"]) == ["a", "z"]
    assert volume.escape_html('{"a": "<&>"}') == '{"a": "\\u003c\\u0026\\u003e"}'


def test_network_created_at_as_go_prints_a_time():
    assert network.go_time_string("2026-11-28T12:08:42.417301Z") == "2026-11-28 12:08:42.417301 +0000 UTC"
    assert network.go_time_string("2026-11-28T12:08:42.500000000+01:00") == "2026-11-28 12:08:42.5 +0100 +0100"
    assert network.go_time_string("2026-11-28T12:08:42Z") == "2026-11-28 12:08:42 +0000 UTC"
    row = network.Network({"Id": "c" * 64, "Name": "n", "EnableIPv4": True, "Internal": False}, trunc=True)
    assert (row.ID(), row.IPv4(), row.IPv6(), row.Internal()) == ("c" * 12, "true", "false", "false")


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_history_rows(utc):
    layer = history.Layer({"Id": "sha256:" + "d" * 64, "Created": 1_700_000_000, "CreatedBy": "/bin/sh -c\t" + "x" * 60,
                           "Size": 1_031_887, "Comment": "c"}, trunc=True, human=True, now=1_700_007_200)
    assert [layer.ID(), layer.CreatedSince(), layer.CreatedBy(), layer.Size(), layer.CreatedAt()] == \
        ["d" * 12, "2 hours ago", "/bin/sh -c " + "x" * 33 + "…", "1.03MB", "2023-11-14T22:13:20Z"]
    raw = history.Layer({"Id": "<missing>", "Created": 0, "CreatedBy": "", "Size": 5}, trunc=False, human=False, now=0)
    assert [raw.ID(), raw.CreatedSince(), raw.Size()] == ["<missing>", "1970-01-01T00:00:00Z", "5"]
    assert history.Layer({"Created": 0}, trunc=True, human=True, now=0).CreatedSince() == "N/A"
    assert history.platform_param("linux/arm64/v8") == '{"architecture":"arm64","os":"linux","variant":"v8"}'
    assert history.platform_param("") is None


def test_local_times_carry_their_offset(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        assert history.rfc3339(0) == "1970-01-01T01:00:00+01:00"
        assert events.rfc3339_nano(1_000_000_005) == "1970-01-01T01:00:01.000000005+01:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_event_lines(utc):
    event = {"status": "start", "id": "c" * 64, "from": "busybox", "Type": "container", "Action": "start",
             "Actor": {"ID": "c" * 64, "Attributes": {"name": "web", "image": "busybox", "a": "1"}},
             "scope": "local", "time": 1_700_000_000, "timeNano": 1_700_000_000_123_456_789}
    assert events.pretty(event) == \
        f"2023-11-14T22:13:20.123456789Z container start {'c' * 64} (a=1, image=busybox, name=web)\n"
    assert events.pretty({"Type": "volume", "Action": "prune", "Actor": {"ID": "", "Attributes": {}},
                          "time": 1_700_000_000}) == "2023-11-14T22:13:20.000000000Z volume prune \n"
    shaped = events.go_message({"Type": "volume", "Action": "create", "Actor": {"ID": "v", "Attributes": None},
                                "scope": "local", "time": 1, "timeNano": 2, "id": ""})
    assert fmt.to_json(shaped) == \
        '{"Type":"volume","Action":"create","Actor":{"ID":"v","Attributes":null},"scope":"local","time":1,"timeNano":2}'
    template = fmt.Template("{{.Status}}|{{.ID}}|{{.Type}}|{{.Actor.ID}}|{{.Scope}}|{{.TimeNano}}")
    assert template.render(shaped) == "||volume|v|local|2"
    with pytest.raises(fmt.TemplateError):
        fmt.Template("{{.status}}").render(events.go_message({}))
    assert list(events.go_message(event)["Actor"]["Attributes"]) == ["a", "image", "name"]


def test_since_and_until_as_the_client_sends_them(utc):
    now = 1_700_000_000.7
    assert timestamps.timestamp("10m", now) == "1699999400"  # whole seconds, as GetTimestamp
    assert timestamps.timestamp("1h30m", now) == str(int(now) - 5400)
    assert timestamps.timestamp("0s", now) == "1700000000"
    assert timestamps.timestamp("-1.5h", now) == str(int(now + 5400))
    assert timestamps.timestamp("1700000000.5", now) == "1700000000.5"
    assert timestamps.timestamp("0", now) == "0"
    assert timestamps.timestamp("2023-11-14T22:13:20Z", now) == "1700000000.000000000"
    assert timestamps.timestamp("2023-11-14", now) == "1699920000.000000000"
    from client.__main__ import CommandError

    with pytest.raises(CommandError, match='failed to parse value as time or duration: "soon"'):
        timestamps.timestamp("soon", now)
    assert [timestamps.duration_seconds(t) for t in ("1h", "1.5m", "300ms", "2h45m10s", "", "h", "1x", "1..2s")] == \
        [3600.0, 90.0, 0.3, 9910.0, None, None, None, None]


def test_info_security_options_and_lines():
    assert info.security_options(["name=seccomp,profile=builtin", "apparmor", "name=cgroupns"]) == \
        [("seccomp", {"profile": "builtin"}), ("apparmor", {}), ("cgroupns", {})]
    with pytest.raises(ValueError, match="invalid security option"):
        info.security_options(["name=seccomp,broken"])
    lines, errors = info.server_lines({
        "Containers": 2, "ContainersRunning": 1, "ContainersPaused": 0, "ContainersStopped": 1, "Images": 1,
        "Driver": "overlayfs", "DriverStatus": [["driver-type", "snapshotter"]], "Plugins": {"Volume": ["local"]},
        "Swarm": {"LocalNodeState": "inactive"}, "OSType": "linux", "SecurityOptions": ["name=seccomp,profile=x"],
        "NCPU": 2, "MemTotal": 25_274_908_672, "Debug": False, "ExperimentalBuild": False,
        "RegistryConfig": {"IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": True},
                                            "r:5000": {"Name": "r:5000", "Secure": False}},
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
        "LiveRestoreEnabled": True})
    assert errors == []
    text = "\n".join(lines)
    assert " Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 1\n Storage Driver: overlayfs\n" \
           "  driver-type: snapshotter\n" in text
    assert " Security Options:\n  seccomp\n   Profile: x\n" in text
    assert " Total Memory: 23.54GiB\n" in text and " Debug Mode: false\n" in text
    assert " Insecure Registries:\n  r:5000\n  127.0.0.0/8\n Live Restore Enabled: true" in text
    assert "File Descriptors" not in text and lines[-1] == ""


def test_the_modules_import_nothing_heavy():
    import subprocess
    import sys

    for module in ("info", "top", "stats", "events", "history", "volume", "network", "system"):
        code = (f"import sys; import client.commands.{module}; "
                "print(sorted(m for m in ('json', 're', 'datetime', 'socket', 'asyncio') if m in sys.modules))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
        assert (done.returncode, done.stdout.strip()) == (0, "[]"), (module, done.stderr)


def test_a_label_column_is_headed_by_the_label():
    assert fmt.render('table {{.Name}}\t{{.Label "com.example.my_tier"}}', [volume.Volume({"Name": "v"})],
                      volume.HEADERS) == "VOLUME NAME   my tier\nv             \n"
