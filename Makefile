# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run    creates .venv, installs hoinghi, creates or upgrades the database and runs the bot
#   make test   creates .venv, installs hoinghi with its test tools and runs the tests
# and one tries the whole plan without a Telegram token:
#   make rehearse   the example plan on a simulated Telegram, in compressed time
#   (make rehearse-faults: the same on a bad day)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= $(or $(HOINGHI_CONFIG),$(if $(wildcard config.toml),config.toml,config.example.toml))
# Said before the bot starts: which plan runs, and how to run one's own when there is none yet.
PLAN_NOTE = Chạy theo kế hoạch: $(CONFIG)$(if $(and $(filter config.example.toml,$(CONFIG)),$(if $(wildcard config.toml),,none)), (chưa có config.toml — sao chép config.example.toml thành config.toml để dùng kế hoạch của mình))

.PHONY: run test test-postgres test-slow test-multiprocess test-browser lint check rehearse \
	rehearse-faults clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	@echo '$(PLAN_NOTE)'
	$(BIN)/hoinghi --config $(CONFIG) run

test: $(STAMP)
	$(BIN)/python -m pytest

# Whole processes killed and restarted, and the whole plan played (with faults, with every
# update delivered twice): about four minutes more, kept out of `make test`'s ten. CI runs both.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# The same tests as `make test` on a real PostgreSQL server: a throwaway cluster in a temporary
# folder (scripts/with-postgres), Debian's PostgreSQL installed through apt when missing.
test-postgres: $(STAMP)
	./scripts/postgres-deps
	./scripts/with-postgres $(BIN)/python -m pytest

# Several `hoinghi run` on one PostgreSQL database, SIGKILLed on the way (issue 22): slow, and
# PostgreSQL only (`make test-slow` on SQLite skips it), so it gets a throwaway cluster here.
test-multiprocess: $(STAMP)
	./scripts/postgres-deps
	./scripts/with-postgres $(BIN)/python -m pytest -m slow tests/test_processes.py
	./scripts/with-postgres $(BIN)/python -m pytest -m slow tests/test_database_guard.py -k 'two_meetings and postgresql'

# The web pages in a real Chromium at a phone's size (scripts/browser-deps installs it, as root
# through apt, with axe-core from npm); screenshots land in out/screenshots/.
test-browser: $(STAMP)
	./scripts/browser-deps
	$(BIN)/python -m pytest -m browser tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

rehearse: $(STAMP)
	$(BIN)/hoinghi rehearse --force

# The same plan on a bad day: platform errors, 429s, the bot killed and restarted, blockers.
# A seed gives the same run every time, so its figures before and after a change compare.
# (`make rehearse --faults` cannot be: make takes --faults as an option of its own.)
rehearse-faults: $(STAMP)
	$(BIN)/hoinghi rehearse --force --faults

check: $(STAMP)
	$(BIN)/hoinghi --config $(CONFIG) check

clean:
	rm -rf $(VENV) build *.egg-info
