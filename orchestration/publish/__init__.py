"""Stage 3, publish: the finished build file becomes the file readers open."""
