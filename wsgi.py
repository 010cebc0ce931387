from wiring import create_app

app = create_app()
