"""The rehearsal: the simulated platforms the bot can be run against, and ``hoinghi rehearse``."""
