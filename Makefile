# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run    creates .venv, installs hoinghi, creates or upgrades the database and runs the bot
#   make test   creates .venv, installs hoinghi with its test tools and runs the tests
# and one tries the whole plan without a Telegram token:
#   make rehearse   the example plan on a simulated Telegram, in compressed time
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= $(if $(wildcard config.toml),config.toml,config.example.toml)

.PHONY: run test lint check rehearse clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hoinghi --config $(CONFIG) run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

rehearse: $(STAMP)
	$(BIN)/hoinghi rehearse

check: $(STAMP)
	$(BIN)/hoinghi --config $(CONFIG) check

clean:
	rm -rf $(VENV) build *.egg-info
