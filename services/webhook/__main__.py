"""`python -m services.webhook`: the registration API and the consumer on PORT (8003)."""

from services.webhook.main import run
from services.webhook.settings import Settings

if __name__ == "__main__":
    run(Settings())
