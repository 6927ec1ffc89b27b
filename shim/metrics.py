"""A container's statistics as containerd's runc shim reports them: the runtime's
`events --stats` JSON (runc's types, which pyrunc follows) turned into an
io.containerd.cgroups.v1.Metrics message."""
from protos import cgroups_metrics_pb2 as cg


def from_runtime_stats(stats: dict) -> cg.Metrics:
    metrics = cg.Metrics()
    pids = stats.get("pids", {})
    metrics.pids.current = pids.get("current", 0)
    metrics.pids.limit = pids.get("limit", 0)
    cpu = stats.get("cpu", {})
    usage = cpu.get("usage", {})
    metrics.cpu.usage.total = usage.get("total", 0)
    metrics.cpu.usage.kernel = usage.get("kernel", 0)
    metrics.cpu.usage.user = usage.get("user", 0)
    metrics.cpu.usage.per_cpu.extend(usage.get("percpu", []))
    throttling = cpu.get("throttling", {})
    metrics.cpu.throttling.periods = throttling.get("periods", 0)
    metrics.cpu.throttling.throttled_periods = throttling.get("throttledPeriods", 0)
    metrics.cpu.throttling.throttled_time = throttling.get("throttledTime", 0)
    memory = stats.get("memory", {})
    raw = memory.get("raw", {})
    for field in ("cache", "rss", "mapped_file", "inactive_file", "active_file", "hierarchical_memory_limit",
                  "total_cache", "total_rss", "total_inactive_file", "total_active_file"):
        setattr(metrics.memory, field, raw.get(field, 0))
    for name, entry in (("usage", metrics.memory.usage), ("swap", metrics.memory.swap), ("kernel", metrics.memory.kernel)):
        values = memory.get(name, {})
        entry.limit = values.get("limit", 0)
        entry.usage = values.get("usage", 0)
        entry.max = values.get("max", 0)
        entry.failcnt = values.get("failcnt", 0)
    blkio = stats.get("blkio", {})
    for runtime_name, entries in (("ioServiceBytesRecursive", metrics.blkio.io_service_bytes_recursive),
                                  ("ioServicedRecursive", metrics.blkio.io_serviced_recursive)):
        for item in blkio.get(runtime_name) or []:
            entries.add(op=item.get("op", ""), major=item.get("major", 0), minor=item.get("minor", 0),
                        value=item.get("value", 0))
    return metrics
