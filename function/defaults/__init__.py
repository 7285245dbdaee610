"""Tables: everything that mirrors upstream (flags, ports, images, paths) or is a built-in default."""
