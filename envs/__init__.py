"""Environments: Sokoban, text games (TextWorld, Household), WebShop, multi-agent goal tasks.

Importing this package imports no env module; ids are registered by ``import hiergym``.
"""
