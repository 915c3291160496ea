"""Fleet rollouts: one change to many routers in canary and waves, rendered per router,
halted at the first surprise, durable, and admitted no faster than the controller can
keep its promises. The public face is :mod:`.service`."""
