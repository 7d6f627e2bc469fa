"""The application floor: the ``riverwatch`` command, ``demo``, the local services supervisor and ``config render``; the one package that may import every other."""
