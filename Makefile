# tcf build. Sources are found by globbing, so adding a file under src/ or a
# tests/test_*.c needs no edit here.
#
#   make            library + CLI (build/libtcf.a, build/tcf)
#   make tests      unit/parity test binaries (build/tests/)
#   make test       build and run the tests
#   make asan       tests built with address+undefined sanitizers (build-asan/)
#   make test-asan  run them
#   make fuzz       libFuzzer targets (build-fuzz/), clang required
#   make install    tcf, libtcf.a, tcf.h and tcf.pc under PREFIX (/usr/local)
#                   (DESTDIR is honoured)

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wvla -Werror=implicit-function-declaration
CPPFLAGS := -Iinclude -Isrc -D_GNU_SOURCE
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -pthread -fno-math-errno
LIBS    := -lcjson -lutf8proc -lpcre2-8 -lmicrohttpd -lm -pthread

B       ?= build
VERSION := 0.1.0
LIB_SRC := $(shell find src -name '*.c' -not -path 'src/cuda/*' | sort)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

.PHONY: all tests test asan test-asan fuzz clean install examples
all: $(B)/tcf

$(B)/obj/%.o: %.c include/tcf.h $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/libtcf.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/tcf: tools/tcf.c $(B)/libtcf.a
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $< $(B)/libtcf.a $(LIBS) -o $@

$(B)/tests/%: tests/%.c tests/check.h $(B)/libtcf.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) $< $(B)/libtcf.a $(LIBS) -o $@

tests: $(B)/tcf $(TEST_BIN)

test: tests
	tests/run.sh $(B)

asan:
	$(MAKE) B=build-asan OPT=-O1 CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" tests

test-asan: asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh build-asan

fuzz: $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)

build-fuzz/%: fuzz/%.c $(LIB_SRC)
	@mkdir -p build-fuzz
	clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -pthread $< $(LIB_SRC) $(LIBS) -o $@

clean:
	rm -rf build build-asan build-fuzz

PREFIX  ?= /usr/local
examples: $(B)/examples/classify

$(B)/examples/%: examples/%.c $(B)/libtcf.a
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(ALL_CFLAGS) $< $(B)/libtcf.a $(LIBS) -o $@

# pkg-config file: static library, so its dependencies go in Libs.
install: $(B)/tcf $(B)/libtcf.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(B)/tcf $(DESTDIR)$(PREFIX)/bin/tcf
	install -m 644 $(B)/libtcf.a $(DESTDIR)$(PREFIX)/lib/libtcf.a
	install -m 644 include/tcf.h $(DESTDIR)$(PREFIX)/include/tcf.h
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: tcf\nDescription: tiny classifier fine-tune: fine-tune and serve small transformer classifiers\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -ltcf %s\n' \
	    '$(PREFIX)' '$(VERSION)' '$(LIBS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tcf.pc

# the link flags a program using libtcf.a needs (bench scripts)
print-libs:
	@echo $(LIBS)
