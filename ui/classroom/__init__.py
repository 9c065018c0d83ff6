"""The classroom's own pages' helpers: per-student bounds on page work, a student's uploads."""
