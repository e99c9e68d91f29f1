"""System metrics (CPU, memory, disk, network, GPU) sampled by MLflow's own monitors.

`mlflow.system_metrics.SystemMetricsMonitor` samples in a thread and logs straight to a
run. Trials run in Ray workers, where nothing may write to the tracking store (only the
sweep driver writes, through the outbox), so a worker runs a `SystemSampler` instead: the
same monitor classes, the same `system/<name>` metric names and step counter, but the
samples are kept in memory until the trial reports, travel with the Tune result and are
logged by the driver like every other write. The figures are the node's (as MLflow's are):
two trials sharing a machine see the same CPU and memory use.
"""

from __future__ import annotations

import os
import threading
import time

PREFIX = "system/"
DEFAULT_INTERVAL = 10.0
"""Seconds between samples (MLflow's default; `MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`
overrides it, as it does for MLflow)."""


def _monitors() -> list:
    """MLflow's default monitors; a GPU one when NVML (or ROCm) finds a GPU."""
    from mlflow.system_metrics.metrics.cpu_monitor import CPUMonitor
    from mlflow.system_metrics.metrics.disk_monitor import DiskMonitor
    from mlflow.system_metrics.metrics.gpu_monitor import GPUMonitor
    from mlflow.system_metrics.metrics.network_monitor import NetworkMonitor
    from mlflow.system_metrics.metrics.rocm_monitor import ROCMMonitor

    monitors = [CPUMonitor(), DiskMonitor(), NetworkMonitor()]
    for gpu in (GPUMonitor, ROCMMonitor):
        try:
            monitors.append(gpu())
            break
        except Exception:  # no GPU, or no NVML/ROCm library: CPU figures only
            continue
    return monitors


def sampling_interval() -> float:
    raw = os.environ.get("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL")
    try:
        return float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


class SystemSampler:
    """Samples every `interval` s in a daemon thread; `drain()` hands over the samples
    taken since the last drain (plus one taken now) as points `{"step", "timestamp",
    "metrics"}`. Steps count samples from `start_step`, so a resumed trial continues its
    series without repeating a step."""

    def __init__(self, start_step: int = 0, interval: float | None = None):
        self.next_step = start_step
        self.interval = interval or sampling_interval()
        self._monitors = _monitors()
        self._points: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="system-metrics", daemon=True)

    def start(self) -> SystemSampler:
        for monitor in self._monitors:  # psutil's CPU figure is relative to the last call
            monitor.collect_metrics()
            monitor.clear_metrics()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        with self._lock:
            metrics: dict[str, float] = {}
            for monitor in self._monitors:
                monitor.collect_metrics()
                metrics.update(monitor.aggregate_metrics())
                monitor.clear_metrics()
            point = {
                "step": self.next_step,
                "timestamp": int(time.time() * 1000),
                "metrics": {PREFIX + k: float(v) for k, v in metrics.items()},
            }
            self._points.append(point)
            self.next_step += 1

    def drain(self) -> list[dict]:
        self._sample()
        with self._lock:
            points, self._points = self._points, []
        return points
