# sluice: the two commands that matter are `make run` and `make test` (see README.md).
# Everything else here is a step of those two.

BUILD      ?= build
BUILD_ASAN ?= build-asan
CONFIG     ?=

.PHONY: all deps build build-asan run test format format-check clean

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(BUILD_ASAN)/build.ninja:
	CC=clang CXX=clang++ meson setup $(BUILD_ASAN) --buildtype=debug \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true \
	    -Dc_args=-fno-sanitize-recover=undefined -Dcpp_args=-fno-sanitize-recover=undefined

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

build-asan: deps $(BUILD_ASAN)/build.ninja
	meson compile -C $(BUILD_ASAN)

run: build
	./scripts/run-broker.sh $(BUILD) $(CONFIG)

test: build build-asan
	./scripts/run-tests.sh

format:
	git ls-files '*.c' '*.h' '*.cc' '*.cpp' | xargs clang-format -i

format-check:
	git ls-files '*.c' '*.h' '*.cc' '*.cpp' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
