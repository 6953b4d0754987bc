"""Recording service: segmenters, spool, uploader, index and sharding (writing footage)."""

from .service import Recorder, RecorderOptions, gap_cause
from .shard import in_shard, parse_shard, shard_of

__all__ = ["Recorder", "RecorderOptions", "gap_cause", "in_shard", "parse_shard", "shard_of"]
