"""Tables: what mirrors upstream (flags, ports, images, paths) and the built-in defaults."""
