"""Fuzzing envprint's readers: arbitrary and mutated bytes give a typed EnvprintError, never a crash or a forgery."""
