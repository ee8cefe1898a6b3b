from services.webhook.main import run
from services.webhook.settings import Settings

if __name__ == "__main__":
    run(Settings())
