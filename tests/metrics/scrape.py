"""Read an exposition the way Prometheus does: prometheus_client's own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


def parse(body: bytes) -> dict[Key, float]:
    """Every sample of ``body`` keyed by (sample name, labels)."""
    out: dict[Key, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: dict[Key, float], name: str, **labels: str) -> float:
    """The one sample named ``name`` with exactly ``labels``; KeyError naming what is there if none."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        present = [dict(k[1]) for k in samples if k[0] == name]
        raise KeyError(f"no {name}{labels}; present: {present}")
    return samples[key]


def names(samples: dict[Key, float]) -> set[str]:
    return {name for name, _ in samples}


def family_of(sample_name: str) -> str:
    """The metric a sample belongs to (histogram and _created suffixes removed)."""
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if sample_name.endswith(suffix):
            return sample_name.removesuffix(suffix)
    return sample_name
