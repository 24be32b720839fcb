# floe — one non-recursive Makefile.
#   make            build build/floe and build/floe-sim
#   make check      install missing Debian packages, build (gcc, clang, ASan+UBSan), run every test
#   make demo       install, build, tell the two-site story (about 1.5 min), then keep the
#                   sites up until Ctrl-C; DEMO_UNATTENDED=1 exits after the report (0: the
#                   whole story happened); DEMO_DIR, DEMO_*_PORT: see etc/demo/run.sh
#   make deps       install missing Debian packages (apt-get)
#   make bench      install (deps, deps-bench), build, run bench/run.sh: floe against collectd
#                   and nginx, one table of ratios and goals (about 8 min; not in `make check`)
#   make install    binaries, example config, systemd unit, the floe user (PREFIX, DESTDIR,
#                   FLOE_USER, FLOE_GROUP; see "install" below)
#   make V=1        show full command lines;  CC=clang make  builds with clang
#   make BUILD=dir  put objects elsewhere (parallel builds, sanitizer builds)

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
SYSTEMD_UNIT_DIR ?= /lib/systemd/system
SYSCONFDIR ?= /etc
# The system user and group the service runs as (User=, Group= in the unit).
FLOE_USER  ?= floe
FLOE_GROUP ?= floe

PKGS    := libmodbus libmicrohttpd libcurl libcjson sqlite3 netsnmp yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -I. \
              $(PKG_CFLAGS) -MMD -MP
ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=address,undefined
endif
LDLIBS  := $(PKG_LIBS) -lpthread -lm
# floe-sim embeds an SNMP agent (sim/sim_snmp.c): net-snmp's agent library,
# for the simulator and the unit tests that link its objects only. Not
# libnetsnmpmibs: the simulator serves its own objects, none of snmpd's.
SIM_LIBS := $(filter-out -lnetsnmpmibs,$(shell pkg-config --libs netsnmp-agent 2>/dev/null))

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Layers, bottom first; an include names its folder and points down only.
LAYERS   := lib config store collectors policies kube placement migrator core api agent
LIB_SRC  := $(filter-out agent/main.c,$(wildcard $(LAYERS:%=%/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/dashboard.o
FLOE_OBJ := $(BUILD)/obj/agent/main.o
SIM_SRC  := $(wildcard sim/*.c)
SIM_OBJ  := $(SIM_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/sim_crds.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all unit check check-unit check-asan check-integration check-fuzz check-systemd \
        deps deps-bench bench demo install install-user clean format fuzz

all: $(BUILD)/floe $(BUILD)/floe-sim

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libfloe.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/floe: $(FLOE_OBJ) $(BUILD)/libfloe.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/floe-sim: $(SIM_OBJ) $(BUILD)/libfloe.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SIM_LIBS) $(LDLIBS)

# floe-sim validates Velero objects against Velero's own CRD schemas, kept in
# tests/data/velero-crds/ and built into the binary so it needs no data files:
# od and sed (coreutils; no xxd on a fresh machine) write each one as a C array
# sim_crd_<name>_json (velero.io_backups.json -> sim_crd_backups_json), NUL at
# the end. Generated under BUILD, never committed.
SIM_CRD_JSON := tests/data/velero-crds/velero.io_backups.json tests/data/velero-crds/velero.io_restores.json
$(BUILD)/gen/sim_crds.c: $(SIM_CRD_JSON) Makefile
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q){ echo '#include "sim/sim_schema.h"'; \
	  for f in $(SIM_CRD_JSON); do \
	    echo "const unsigned char sim_crd_$$(basename $$f .json | sed 's/^velero\.io_//')_json[] = {"; \
	    od -An -v -tx1 $$f | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo '0x00};'; \
	  done; } >$@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/sim_crds.o: $(BUILD)/gen/sim_crds.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The dashboard (GET /, api/api_dashboard.c) is built into the agent from
# its files in api/dashboard/, which api/dashboard/embed.sh writes as C
# arrays (od and sed, as for the CRDs above). Generated under BUILD, never
# committed.
$(BUILD)/gen/dashboard.c: $(wildcard api/dashboard/*)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)api/dashboard/embed.sh $@

$(BUILD)/obj/gen/dashboard.o: $(BUILD)/gen/dashboard.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Unit tests may also use the simulator's modules (sim/*.c except its main).
SIM_LIB_OBJ := $(filter-out $(BUILD)/obj/sim/sim_main.o,$(SIM_OBJ))
# Helpers the unit tests share (tests/unit/lib/: a loopback HTTP server).
TEST_LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/lib/*.c))
.SECONDARY: $(TEST_LIB_OBJ) # kept between builds, not an intermediate file
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libfloe.a $(SIM_LIB_OBJ) $(TEST_LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_LIB_OBJ) $(SIM_LIB_OBJ) $(BUILD)/libfloe.a $(SIM_LIBS) $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)

# ---- dependencies -------------------------------------------------------
# Every package that the build, tests/, etc/demo/run.sh and bench/ run or
# import. apt-get runs with --no-install-recommends, so a package needed only
# as another's recommend is named here too: libc6-dev (gcc's), python3-serial
# and python3-serial-asyncio (python3-pymodbus's; its server imports both),
# ca-certificates (libcurl's; install_unprivileged.sh adds to its bundle).
# Also: binutils (ar, nm), git (layers.sh, docs_links.sh, check_config.sh run
# git ls-files), openssl (the tests' certificates), prometheus (promtool),
# systemd (systemd-analyze), tzdata (zoneinfo), iproute2 (the demo's ss),
# pdns-server, pdns-backend-sqlite3 and bind9-dnsutils (a real PowerDNS and
# dig for the traffic cut-over tests, tests/integration/lib/pdns.sh),
# chromium (the dashboard test's headless browser, driven over its
# DevTools pipe by tests/integration/lib/cdp.py: no chromedriver, no
# Selenium).
# The last line is the base tools the scripts run (setpriv, unshare, flock,
# script, useradd, getent, ...), Essential or required on every Debian,
# named for completeness. tests/fresh-machine.sh proves the list on a fresh
# debootstrap --variant=minbase bookworm.
DEB_PACKAGES := gcc libc6-dev binutils make pkg-config clang libclang-rt-14-dev libcmocka-dev \
    libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev libmodbus-dev libsnmp-dev libsqlite3-dev \
    libyaml-dev \
    git openssl ca-certificates curl sqlite3 tzdata \
    python3 python3-pymodbus python3-serial python3-serial-asyncio \
    mbpoll snmpd snmp snmpsim prometheus systemd procps iproute2 \
    pdns-server pdns-backend-sqlite3 bind9-dnsutils chromium \
    bash coreutils diffutils findutils grep sed mawk util-linux mount bsdutils passwd libc-bin ncurses-bin

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "all Debian packages present"; fi

# The peers `make bench` measures floe against (bench/run.sh): collectd
# (collectd-core has the modbus and snmp plugins; they link libmodbus5 and
# libsnmp40, which it only suggests), nginx and wrk. On a machine that runs
# systemd, the services these packages start when first installed are
# stopped and disabled again: the bench runs its own on free loopback ports.
BENCH_PACKAGES := collectd-core libmodbus5 libsnmp40 nginx wrk

deps-bench:
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing || exit 1; \
	  if [ -d /run/systemd/system ]; then for s in nginx collectd; do \
	    case "$$missing " in *" $$s "*|*" $$s-core "*) systemctl disable --now $$s 2>/dev/null || true;; esac; \
	  done; fi; \
	else echo "all bench packages present"; fi

# One after the other (apt-get takes a lock); bench/run.sh builds.
bench:
	$(MAKE) deps
	$(MAKE) deps-bench
	bench/run.sh $(BUILD)

# ---- tests --------------------------------------------------------------
check: deps
	$(MAKE) all unit
	$(MAKE) CC=clang BUILD=$(BUILD)/clang all unit
	$(MAKE) BUILD=$(BUILD)/asan SAN=1 all unit
	tests/run.sh $(BUILD)

check-unit: all unit
	tests/run.sh --only unit $(BUILD)

fuzz:
	tests/fuzz/build.sh $(BUILD)/fuzz

# ---- demo ---------------------------------------------------------------
demo: deps
	$(MAKE) all
	etc/demo/run.sh $(BUILD)

# ---- install ------------------------------------------------------------
# The service runs as the static system user and group floe (not systemd's
# DynamicUser=: a uid picked at each start cannot be given the group of
# root-owned secrets in /etc beforehand). Root owns and writes the
# configuration; group floe reads it:
#   /etc/floe, /etc/floe/secrets, /etc/floe/tls   0750 root:floe
#   /etc/floe/floe.json                           0640 root:floe
# floe.json is never overwritten, but its owner and mode are set on every
# install; files in secrets/ and tls/ are left alone (README says how to
# make them). Installing to the real root (DESTDIR empty) first creates
# the user and group when missing (install-user). With DESTDIR, root gives
# the same owners, so FLOE_USER/FLOE_GROUP must exist here or be numeric
# ids; an unprivileged DESTDIR install (packaging) leaves owners to the
# package. /var/lib/floe is made by systemd (StateDirectory=).
CONF_DIR := $(DESTDIR)$(SYSCONFDIR)/floe
IS_ROOT   = $(filter 0,$(shell id -u))
CONF_OWNER = $(if $(IS_ROOT),-o root -g $(FLOE_GROUP))

install: all $(if $(DESTDIR),,install-user)
	@if [ -n "$(IS_ROOT)" ] && ! getent group $(FLOE_GROUP) >/dev/null && \
	    ! echo "$(FLOE_GROUP)" | grep -qx '[0-9][0-9]*'; then \
	  echo "make install: group $(FLOE_GROUP) does not exist on this machine; install to the real root" \
	       "(no DESTDIR) to create it, or give FLOE_GROUP=GID, the id it has on the target" >&2; exit 1; fi
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_UNIT_DIR) \
	  $(DESTDIR)$(PREFIX)/share/doc/floe/examples
	install -d -m 0750 $(CONF_OWNER) $(CONF_DIR) $(CONF_DIR)/secrets $(CONF_DIR)/tls
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/floe/
	install -m 0644 policies/examples/*.json etc/ups-snmp.json $(DESTDIR)$(PREFIX)/share/doc/floe/examples/
	install -m 0755 $(BUILD)/floe $(BUILD)/floe-sim $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@DOCDIR@|$(PREFIX)/share/doc/floe|g' \
	    -e 's|^User=floe$$|User=$(FLOE_USER)|' -e 's|^Group=floe$$|Group=$(FLOE_GROUP)|' \
	    systemd/floe.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/floe.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/floe.service
	test -e $(CONF_DIR)/floe.json || install -m 0640 $(CONF_OWNER) etc/floe.json $(CONF_DIR)/floe.json
	chmod 0640 $(CONF_DIR)/floe.json
	$(if $(IS_ROOT),chown root:$(FLOE_GROUP) $(CONF_DIR)/floe.json,\
	  @echo "make install: not root: $(CONF_DIR) and floe.json must be made root:$(FLOE_GROUP) by the package")

# The system user and group, when missing; a numeric FLOE_USER/FLOE_GROUP
# names an id, which is used as it is. No login; its home is the state
# directory, which systemd makes at the first start.
install-user:
	@if ! echo "$(FLOE_GROUP)" | grep -qx '[0-9][0-9]*' && ! getent group $(FLOE_GROUP) >/dev/null; then \
	  echo "groupadd --system $(FLOE_GROUP)"; groupadd --system $(FLOE_GROUP); fi
	@if ! echo "$(FLOE_USER)" | grep -qx '[0-9][0-9]*' && ! getent passwd $(FLOE_USER) >/dev/null; then \
	  echo "useradd --system $(FLOE_USER)"; \
	  useradd --system --gid $(FLOE_GROUP) --no-create-home --home-dir /var/lib/floe \
	    --shell /usr/sbin/nologin --comment "floe datacenter agent" $(FLOE_USER); fi

format:
	clang-format -i $(wildcard $(LAYERS:%=%/*.[ch]) sim/*.[ch] tests/unit/*.c tests/unit/lib/*.[ch] tests/fuzz/*.c)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
