"""Other tools: bulk publishing with pika's BlockingConnection, the lab's own client library, as
its users write it. Persistent messages; with --confirm, confirm_delivery() (each basic_publish
then waits for its confirm). Usage: python3 pika_publish.py URL QUEUE COUNT [--confirm]"""
import sys

import pika

url, queue, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
confirm = '--confirm' in sys.argv[4:]
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.queue_declare(queue=queue, durable=True)
if confirm:
    channel.confirm_delivery()
properties = pika.BasicProperties(delivery_mode=2)
for _ in range(count):
    channel.basic_publish(exchange='', routing_key=queue, body=b'x', properties=properties)
connection.close()
