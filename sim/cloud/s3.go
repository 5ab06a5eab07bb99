package cloud

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Client is a client of the embedded gofakes3 server. It has static
// credentials on purpose: the SDK's default chain would probe the EC2
// metadata service, which does not exist here.
func (c *Cloud) s3Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(c.s3.URL),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("shoplab", "shoplab", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}
