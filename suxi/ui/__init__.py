"""The Gradio side of the app: handlers the page and the API call (the layout is in app.py)."""
