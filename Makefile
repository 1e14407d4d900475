# The two set-up commands of the README:
#   make run    installs switchtower with the embedded local model and runs the main job
#   make test   installs the test dependencies and runs lint, type check and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch only for the optional embedding classifier backend: pin the CPU build this
# machine kind keeps on disk, so pip never pulls a multi-GB CUDA build
TORCH ?= torch==2.13.0
# llama-cpp-python compiles llama.cpp. Its default -march=native build uses the CPU's AMX
# tiles where it finds them, and on this machine kind's VMs that code dies of a general
# protection fault (ldtilecfg in ggml_backend_amx_mul_mat) at the first completion. On
# x86-64 the build is therefore a portable AVX2 one (any x86-64 CPU of the last decade;
# fast enough for SmolLM2-135M); other architectures have no AMX and keep llama.cpp's
# defaults. pip caches the wheel it builds, so only a machine's first install compiles
# (clear a native build an earlier install left with `pip cache remove llama_cpp_python`).
ifeq ($(shell uname -m),x86_64)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

.PHONY: run test lint typecheck pytest install-run install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet '$(TORCH)'
	$(BIN)/pip install --quiet -e '.[local,embed,bench,dev]'
	touch $@

install-run: $(VENV)/.run-installed
install-test: $(VENV)/.test-installed

run: install-run
	$(BIN)/switchtower serve

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install-test
	$(BIN)/mypy

pytest: install-test
	$(BIN)/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
