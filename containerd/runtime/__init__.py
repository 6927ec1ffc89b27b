"""Tasks, run by shims: the bundle directory each task gets, the shim binary's start and delete
actions, the ttrpc connection to each shim, and the task manager that ties them together and
rebuilds itself from the state directory after a restart."""
