# camerahub: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo demo-reset test lint bench clean

# uv (from PyPI) installs the project's dependencies in seconds rather than the minute pip
# takes; pip is the fallback where uv cannot be installed.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	($(BIN)/pip install -q uv && $(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]') \
	  || ($(BIN)/pip install -q --upgrade pip && $(BIN)/pip install -q -e '.[dev]')
	touch $(STAMP)

# The web UI tests drive Debian's headless Chromium (never a downloaded browser); CJK fonts
# so that Japanese renders in its screenshots; ffprobe/ffmpeg as independent players in tests
# and references in benchmarks (the product records without them); IPAex Gothic, the TrueType
# font the viewing register's PDF embeds, and poppler-utils to check that PDF in tests;
# GStreamer's RTSP server (run by the system python through python3-gi) as a camera the
# project did not write, for tests/reliability. Needs root (as on CI) the first time only.
GST_PACKAGES := gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
GST_CHECK := import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer

setup: $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  && command -v ffprobe >/dev/null && fc-list 2>/dev/null | grep -qi 'noto sans cjk' \
	  && test -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf \
	  && command -v pdftoppm >/dev/null \
	  && /usr/bin/python3 -c "$(GST_CHECK)" 2>/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk ffmpeg \
	      fonts-ipaexfont-gothic poppler-utils $(GST_PACKAGES))

# The demo keeps its data in var/demo between runs; demo-reset deletes them first.
demo: setup
	$(BIN)/camerahub demo

demo-reset: setup
	$(BIN)/camerahub demo --fresh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

test: setup lint
	$(BIN)/python -m pytest

# rclone is the whole-job reference of benchmarks/record_bench.py (ffmpeg + rclone to S3).
bench: setup
	command -v rclone >/dev/null || apt-get install -y -qq rclone || true
	for b in benchmarks/*_bench.py; do $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache
