"""Streamlit helpers for the pages in pages/ (with app.py, the only code that imports streamlit), grouped by
concern. The import contract in pyproject.toml keeps the groups apart, highest layer first:

    lessons | latent | train | classroom   feature groups: they never import each other
    latent_map                            the latent map the Latent space page and lessons 2-3 share
    pickers | background | heldout        base: run pickers; launching runs; held-out images and codes
    runs                                  the runs this user sees: list, submit, cached snapshots, models, export
    access                                who is using the app (classroom mode, login, roles)
    draw                                  charts, image grids, tables, formulas: drawing only
    nav | state | backend                 pages and links; session-state keys; this server's backend and store

    nav.py, state.py, backend.py, runs.py, pickers.py, background.py, heldout.py   the base every page may use
    access/      mode (is this the classroom instance: env / secrets), auth (the login gate, roles, the backend
                 and runs as that user sees them)
    classroom/   limits (per-student bounds on page work), uploads (a student's own datasets)
    draw/        charts (training curves, bars), plots (the small charts of Lessons/Applications/Compare),
                 theory (VAE theory), physics (Ising, Graph AE), images (real pixels), tables, formulas
    latent_map/  layers (the map's Vega-Lite layers), pick (click or sliders -> decoded point)
    latent/      canvas (draw your own digit), interpolation (AE vs VAE paths)
    lessons/     view (runs, diffs, evidence), render (each lesson's drawing), regularizers, tour, demo_pack
    train/       form (the Train page's preset values, parsing, checks), listing (the lecture's code beside
                 print(model))

nav, access.mode, state, draw.images and the chart modules load neither torch nor the engine, so Home is drawn at
once; the others load the engine when a page that needs it imports them.
"""
