"""Streamlit helpers for the pages in app_pages/ (with app.py, the only code that imports streamlit), one module
per concern, without import cycles. nav and classroom (all that the router and Home import), state, images and
the chart modules load neither torch nor the engine, so Home is drawn at once; the others load the engine
when a page that needs it imports them.

    nav          the pages: titles, icons, URLs, sidebar sections, links between pages
    state        session-state keys shared by the pages
    classroom    is this the classroom instance (env / secrets)
    backend      the job backend and checkpoint store of this server
    auth         who is using the app; the backend and runs as that user sees them
    runs         the runs this user sees: list, submit, cached snapshots, models, export
    pickers      selectboxes over runs, jobs and epochs
    background   launching runs and showing their progress (Lessons, Applications, Ising, Your data)
    images       image grids (real pixels, not plots)
    charts       training curves, latent map, bars
    lesson_charts, physics_charts   the small charts of Lessons/Applications/Compare and of Ising/Graph AE
    tables       run overviews and comparisons as DataFrames (Runs, Compare)
    train_form   the Train page's form: preset values, parsing, checks, parameter count
    formulas     st.latex of a run's loss with its numbers; formulas side by side (LaTeX from engine.teaching)
    latent_charts, latent_map   the latent map's layers; the clickable map (click/sliders -> decoded point)
    canvas, interpolation       draw your own digit; AE vs VAE interpolation (Latent space)
    heldout      held-out images, posteriors and reconstruction errors, cached per checkpoint
    theory_charts, code_compare the VAE theory page's charts; the lecture's listing beside print(model)
"""
