# Mercato: the two commands are `make up` and `make test`. See README.md.
SHELL := /bin/bash
PRESET ?= release
BUILD_DIR := build/$(PRESET)
# The release preset puts binaries in build/bin; the others in build/<preset>/bin.
BIN := $(if $(filter release,$(PRESET)),build/bin,$(BUILD_DIR)/bin)
DATA_DIR ?= data
CTEST_ARGS ?=

.PHONY: all setup configure build up down status test test-unit test-component bench fmt clean help

all: build

help:
	@echo "make up        set up, build, start the platform in the background (make down stops it)"
	@echo "make test      set up, build, run every test suite"
	@echo "make bench     run the benchmarks (bench/) and print ratios against their baselines"
	@echo "make fmt       clang-format every C++ file"
	@echo "make status    what runs where;  make down  stop it"
	@echo "PRESET=debug   build with ASan+UBSan into build/debug (binaries in build/debug/bin)"

setup:
	@bash scripts/setup.sh

$(BUILD_DIR)/build.ninja:
	@bash scripts/setup.sh
	cmake --preset $(PRESET)

configure: $(BUILD_DIR)/build.ninja

build: setup configure
	@start=$$(date +%s); cmake --build --preset $(PRESET); \
	echo "build: done in $$(( $$(date +%s) - start )) s"

up: build
	./$(BIN)/mercato up --detach --data-dir $(DATA_DIR)

down:
	@if [ -x $(BIN)/mercato ]; then ./$(BIN)/mercato down --data-dir $(DATA_DIR); fi

status:
	./$(BIN)/mercato status --data-dir $(DATA_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900 -j2 $(CTEST_ARGS)

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit -j2

test-component: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L component -j2

bench: build
	BIN_DIR=$(BIN) bash bench/http_baseline/run.sh
	BIN_DIR=$(BIN) bash bench/identity/run.sh
	BIN_DIR=$(BIN) bash bench/catalog/run.sh
	./$(BIN)/inventory_reserve --seconds $${SECONDS:-10}
	./$(BIN)/events_e2e --events $${EVENTS:-5000}

fmt:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i --style=file

clean:
	rm -rf build
