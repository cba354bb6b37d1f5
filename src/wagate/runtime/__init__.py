"""Clock and background tasks: the runtime every layer may use, importing nothing of wagate."""
