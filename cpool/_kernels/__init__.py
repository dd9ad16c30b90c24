"""Compiled kernels. Private: call the public functions in :mod:`cpool` instead."""
