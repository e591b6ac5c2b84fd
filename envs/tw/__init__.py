"""TextWorld games (Microsoft TextWorld's ``tw-make`` challenges) as hiergym envs.

``env`` holds ``TextWorldEnv``; ``games`` makes and caches game files; ``subgoals`` derives
anchor facts and subgoals from TextWorld's logic; ``text`` cleans interpreter output.
Importing this package does not import ``textworld``; making a game or an env does.
"""
