from services.realtime.main import run
from services.realtime.settings import Settings

if __name__ == "__main__":
    run(Settings())
