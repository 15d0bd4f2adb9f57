"""``git-sanitize run``: the playbook, its checks before stage 1, and the runner that resumes every stage."""
