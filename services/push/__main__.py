"""`python -m services.push`: the devices API, the consumer and the timers on PORT (8004)."""

from services.push.main import run
from services.push.settings import Settings

if __name__ == "__main__":
    run(Settings())
